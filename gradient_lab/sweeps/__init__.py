"""Many runs and their statistics: the sweep runner (`runner`: cells, resume, joblib or Dask), the
intervals over seeds (`intervals`: t, Wilson, binomial) and the tables (`tables`, with pandas).

Imports no TensorFlow: a sweep cell trains through `gradient_lab.experiment`.
"""
