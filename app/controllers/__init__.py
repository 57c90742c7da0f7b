"""What the main window composes: project I/O, inference, the actions table.

:class:`~app.controllers.project.ProjectController` opens, saves, recovers and exports;
:class:`~app.controllers.inference.InferenceController` owns the prediction worker, the detector
and the progress; :mod:`app.controllers.actions` is the one table of actions, shortcuts, menus and
toolbar that the F1 help is generated from. Qt-free queries live in :mod:`app.review`.
"""
