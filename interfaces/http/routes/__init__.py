"""Routes, one module per area of API.md."""
