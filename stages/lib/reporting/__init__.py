"""Results tables, references, summaries, charts, model cards, export folders."""
