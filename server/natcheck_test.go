package server

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/natcheck"
)

// TestNATCheck: with natCheck configured on three loopback addresses, a
// client of the conncheck application that sends setPeerInfo gets the
// results; on loopback nothing filters or translates.
func TestNATCheck(t *testing.T) {
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "off",
		"natCheck": {"differentPort": "127.0.0.1:0", "differentAddress": "127.0.0.2:0", "introReply": "127.0.0.3:0", "tries": 3}}`)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "rtmfp://"+d.Endpoints()[0].LocalAddr().String()+"/conncheck", client.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := netip.MustParseAddrPort(c.Session().Endpoint().LocalAddr().String())
	local = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), local.Port())
	if err := c.SetPeerInfo(ctx, local); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case st := <-c.Status():
			if st.Code != natcheck.StatusResults {
				continue
			}
			r, err := natcheck.ParseResults(st.Info)
			if err != nil {
				t.Fatal(err)
			}
			b := natcheck.Infer(r)
			if r.PublicAddress != local || b.Translated == nil || *b.Translated ||
				b.Mapping != natcheck.EndpointIndependent || b.Filtering != natcheck.EndpointIndependent {
				t.Fatalf("results %+v, behaviour %+v", r, b)
			}
			return
		case <-ctx.Done():
			t.Fatal("no results")
		}
	}
}

func TestNATCheckConfig(t *testing.T) {
	for js, want := range map[string]string{
		`{"natCheck": {}}`:                     "natCheck.differentPort: required",
		`{"natCheck": {"differentPort": "x"}}`: `natCheck.differentPort: address "x"`,
		`{"natCheck": {"differentPort": "127.0.0.1:1", "introReplyPublic": "1.2.3.4:5"}}`: "needs natCheck.introReply",
		`{"apps": ["live"], "natCheck": {"differentPort": "127.0.0.1:1"}}`:                `natCheck.app: "conncheck" is not among apps`,
		`{"natCheck": {"differentPort": "127.0.0.1:1", "tries": -1}}`:                     "natCheck.tries: -1 is negative",
	} {
		if _, err := loadJSON(t, js); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", js, err, want)
		}
	}
	if _, err := loadJSON(t, `{"apps": ["live", "nat"], "natCheck": {"app": "nat", "differentPort": "127.0.0.1:1"}}`); err != nil {
		t.Error(err)
	}
}
