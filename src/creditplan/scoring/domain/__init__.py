"""Pure scoring kernel: training, the compiled model artifact, scoring, metrics and validation reports.

Why this package imports nothing on its own: the scorer (``scorer.py``, ``artifact.py``, ``features.py``)
must load in a Spark executor or the web process with numpy alone, while training pulls in optbinning,
scikit-learn and LightGBM. Import the module you need:

* ``data`` – read CSV / Parquet / Excel, choose the target, decide the feature plan, fingerprint the data;
* ``estimator`` – what the model kinds share as scikit-learn estimators (input checks, the artifact);
* ``scorecard`` – ``ScorecardModel``: WoE binning, feature selection, logistic regression, points;
* ``trees`` – ``TreeModel`` (segmentation tree) and ``GbmModel`` (LightGBM challenger);
* ``train`` – the training harness: split, fit, metrics and training record, for every kind;
* ``artifact`` / ``scorer`` – the ``creditplan.model/1`` JSON format and its numpy scorer;
* ``metrics`` / ``report`` – AUC, KS, Gini, PSI, calibration and the standalone HTML report;
* ``jdm`` – a decision tree as a GoRules JDM decision table;
* ``reject_inference`` – fuzzy augmentation and parcelling for approved-only training data;
* ``datasets`` – the German and Taiwan credit data sets read from the shared data folder.

Nothing here imports Django or another creditplan app except ``creditplan.core.errors``.
"""
