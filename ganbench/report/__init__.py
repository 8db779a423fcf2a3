"""Step 6, the report: the stored runs grouped into comparisons, rendered as tables (terminal, Markdown, CSV,
JSON, HTML), plots, sample grids and curves across budgets and data sizes."""
