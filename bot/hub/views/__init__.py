"""Hub views, grouped by page."""
