"""What a reader sees: number formats, languages, charts, notebook helpers and the summary page."""
