package testrig

import "context"

// StopAfter is a context whose Err reports context.DeadlineExceeded once it has been
// asked N times: tests use it to see how often long work checks its context, without
// depending on time.
type StopAfter struct {
	context.Context
	N int
}

// Err counts the question and answers it.
func (c *StopAfter) Err() error {
	if c.N--; c.N < 0 {
		return context.DeadlineExceeded
	}
	return nil
}
