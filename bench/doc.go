// Package bench holds whole-system benchmarks of rtmfpd on loopback: the
// server runs as its own process (cmd/rtmfpd, built by the benchmark) so that
// its CPU time can be read from /proc apart from the load generator's, and
// raw-UDP baselines are measured in the same run. See BENCHMARKS.md for the
// figures and how to reproduce them.
package bench
