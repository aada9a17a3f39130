"""Shared code of the workbench pages: cached artifact access (`access`), page chrome (`ui`) and the
plotly figure builders (`charts`). Pages import it as `lib` (the app folder is on sys.path)."""
