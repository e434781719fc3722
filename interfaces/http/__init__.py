"""The HTTP API of API.md: thin FastAPI routes over the application and the read side."""
