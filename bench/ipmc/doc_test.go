// Package ipmc_test benchmarks a group stream published onto native IP
// multicast (groupstream.Publication.SetIPMulticastPublishAddress): media
// in, fragments out as one datagram each, with the raw sender of the same
// datagrams as the baseline in the same run. TestMain runs the package in
// a private network namespace (internal/netns): nothing leaves it.
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/ipmc
//
// RTMFPD_IPMC_SECONDS sets the length of the paced run (default 5 s).
package ipmc_test

import (
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/netns"
)

func TestMain(m *testing.M) { netns.Main(m) }
