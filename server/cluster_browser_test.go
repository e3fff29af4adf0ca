package server

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rtmfpd/rtmfpd/internal/testtools"
	"github.com/rtmfpd/rtmfpd/media"
)

// TestClusterDashboardInChromium: two nodes with a trunk; an RTMP
// publisher on node 1 and an RTMP player on node 2, which pulls the stream.
// Headless Chromium opens node 2's dashboard (admin without a password:
// loopback only): its cluster section lists both nodes, with node 1's trunk
// connection, and the pull; the sections drawn after it are drawn too.
func TestClusterDashboardInChromium(t *testing.T) {
	browser := testtools.Chromium(t)
	tc := startCluster(t, 2, func(int) (string, string) {
		return `, "trunk": {"listen": "127.0.0.1:0"}`, `, "status": "127.0.0.1:0", "admin": {"enabled": true}`
	})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	pub := rtmpOn(ctx, t, tc.nodes[0], "cam", true)
	if err := pub.WriteMedia(media.Message{Type: media.TypeVideo, Payload: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the stream in node 2's registry", func() bool {
		_, ok := tc.nodes[1].Cluster().Registry().StreamOrigin("live/_definst_/cam")
		return ok
	})
	rtmpOn(ctx, t, tc.nodes[1], "cam", false)
	waitUntil(t, 10*time.Second, "node 2's pull", func() bool { return len(tc.nodes[1].streams.Pulls()) == 1 })

	bctx, bcancel := context.WithTimeout(browser, 60*time.Second)
	defer bcancel()
	if err := chromedp.Do(bctx, chromedp.Navigate("http://"+tc.nodes[1].StatusAddr()+"/dashboard/")); err != nil {
		t.Fatal(err)
	}
	shown := `(() => {
		const s = document.getElementById("cluster-section");
		const nodes = [...document.querySelectorAll("#cluster-nodes tr[data-node]")].map((r) => r.dataset.node).join(",");
		const n1 = document.querySelector('#cluster-nodes tr[data-node="n1"]');
		return !s.hidden && nodes === "n2,n1" && n1.textContent.includes("127.0.0.1") &&
			document.querySelector("#cluster-pulls tbody").textContent.includes("live/_definst_/cam") &&
			document.querySelector("#relay tbody").textContent.includes("no relay target");
	})()`
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](shown)); err != nil {
		html, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("cluster-section").outerHTML`))
		t.Fatalf("the page never showed the cluster: %v\n%s", err, html)
	}
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	art := filepath.Join(t.ArtifactDir(), "cluster-dashboard.png")
	if err := os.WriteFile(art, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", art, len(png))
}
