"""Calibration backtest of the scenario model (``rmpbt scenarios --calibrate``): run and write."""
