"""Many runs and their statistics: the sweep runner (`runner`: cells, resume, joblib or Dask), the
intervals over seeds (`intervals`: t, Wilson, binomial) and the tables (`tables`, with pandas).

`intervals` and `tables` import no TensorFlow; the runner trains each cell's seeds stacked, through
`tf_speed.stacked`.
"""
