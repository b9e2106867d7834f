"""After-action review: a run's record as a timeline, rubric scores, training records, exports.

Pure folds over the record, with no Qt: the console's review mode, the command line and the
reports all read runs through here.
"""
