"""Server-rendered pages: templates, our own static assets and the rendering helper."""
