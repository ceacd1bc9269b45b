from mesoclinic.cli import app

app()
