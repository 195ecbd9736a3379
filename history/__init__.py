"""History outside the live API: the raw archive, Google Takeout exports, the legacy archive.

Beam-free. Each source's files become `history.units.ImportUnit`s: one window of one
user's data in the shape the Google Health API answers it (reconciled data points), or
rows of a legacy-only table. `transforms.imports` turns them into rows through the same
row building, validation, BigQuery write and load log as `fitbeam run`.
"""
