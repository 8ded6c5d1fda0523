"""The simulator's dashboard (``/_sim/ui``): its state in server-rendered pages, changed only
through the control API."""
