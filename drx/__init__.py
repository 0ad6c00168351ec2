"""The application layer: one module per workflow, shared by the pages (views/) and the ``drx`` command.

Functions take a session factory and plain values and return plain dataclasses; the tests call them directly.

- :mod:`drx.review`: one photograph decoded, scored, explained, its hot spots registered as candidates; grades;
- :mod:`drx.candidates`: candidates and the graders' decisions on them;
- :mod:`drx.adjudication`: the graders' versions side by side and a reviewer's consensus;
- :mod:`drx.accounts`: accounts and work queues (the Admin page);
- :mod:`drx.discovery_sessions`: discovery runs and the sessions kept of them;
- :mod:`drx.dashboards`, :mod:`drx.grader_statistics`: the dashboards' data and the graders' agreement;
- :mod:`drx.evaluation_runs`, :mod:`drx.evaluation_figures`: ``drx evaluate``'s runs, report and FROC figures;
- :mod:`drx.records`, :mod:`drx.coco_import`, :mod:`drx.corrections_export`, :mod:`drx.masks`: import and export;
- :mod:`drx.storage`: the files kept beside the database (uploads, heatmaps).

Two packages sit on top: :mod:`drx.ui` (Streamlit panels, figures and caches) and :mod:`drx.cli` (the
command line). The modules here may import drcore and db (and plotly for figures); never streamlit,
drx.ui or drx.cli.
"""
