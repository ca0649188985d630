"""Formats: templates rendered, tables and JSON, diagrams, plots, generated code, the browser."""
