"""AI4Loop core: data registry, genes, expression, features, model, training and prediction.

The modules follow the pipeline: ``data`` -> ``genes`` -> ``expression`` -> ``features`` ->
``model`` -> ``predict``; ``train`` and ``evaluate`` make and judge models.
"""
