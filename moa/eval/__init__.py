"""Answer quality on graded questions: question sets, running configs over them, and the statistics."""
