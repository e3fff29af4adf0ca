package ipmulticast

import (
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/netns"
)

// TestMain runs every test and benchmark of the package inside a private
// network namespace whose only interface is lo (see internal/netns): the
// tests send real multicast and must never reach a real interface.
func TestMain(m *testing.M) { netns.Main(m) }
