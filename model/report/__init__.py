"""The run's report: the Markdown summary and its table rows, every phrase in English and Japanese, the interactive page and figures, and the model card."""
