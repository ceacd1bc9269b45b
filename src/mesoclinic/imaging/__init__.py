"""Photo intake (validated, EXIF-stripped, encrypted), landmarks, alignment, facial zones, skin metrics."""
