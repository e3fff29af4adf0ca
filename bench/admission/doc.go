// Package admission benchmarks how rtmfpd admits RTMFP handshakes (RFC 7016
// §3.5.1) on loopback: honest crowds behind one address, many addresses, and
// spoofed IHello floods. The server runs as its own process
// (bench/internal/rtmfpdproc).
//
// Spoofed sources are real loopback addresses: every 127.0.0.0/8 address is
// local on Linux, so the flood binds one UDP socket to each of thousands of
// addresses 127.10.x.y, sends IHellos from them and counts what comes back
// to each, as a victim of reflection would. Honest handshakes come from the
// Go client (package rtmfp), one endpoint per handshake in flight, from
// 127.0.0.1 or from addresses 127.20.x.y; librtmfp's load generator, a client
// nobody here wrote, is run when RTMFPD_RTMFP_LOAD names its binary.
//
//	go test -run '^$' -bench . -benchtime 1x -timeout 30m ./bench/admission
//
// RTMFPD_ADMISSION_SECONDS sets the length of each measurement (default 5),
// RTMFPD_BENCH_BINARY runs another rtmfpd build (an older version, to compare),
// RTMFPD_FLOOD_PPS and RTMFPD_FLOOD_SOURCES the flood (default 50,000
// packets/s from 2,000 addresses). See BENCHMARKS.md for the figures.
package admission
