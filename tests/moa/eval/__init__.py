"""Tests of moa/eval: question sets, statistics, results file, run planning."""
