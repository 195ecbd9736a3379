"""Running a study on what fitbeam loaded: per participant-day wear and completeness,
per participant status (`fitbeam status`), the HTML report (`fitbeam report`) and
consent withdrawal (`fitbeam forget`).

Beam-free: these run from a coordinator's laptop or a scheduler against BigQuery,
the token store and the dead-letter files, never inside a pipeline.
"""
