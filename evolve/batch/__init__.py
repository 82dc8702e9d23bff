"""Batch research runs: a sweep file expanded into ordinary runs that executors place (see DESIGN.md, 5)."""
