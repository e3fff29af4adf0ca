package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/internal/clitest"
)

// clusterNode is an rtmfpd process of a test cluster.
type clusterNode struct {
	p      *clitest.Proc
	rtmfp  string // RTMFP address
	status string // status listener
	nats   string // its embedded NATS server's, if any
}

func startNode(t *testing.T, bin, dir, name, natsPart, extra string) *clusterNode {
	t.Helper()
	cfg := writeFile(t, dir, name+".json", `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "127.0.0.1:0",
		"session": {"startupRate": 1000, "startupBurst": 1000},
		"cluster": {"node": "`+name+`", `+natsPart+`, "heartbeat": "200ms", "expiry": "1s"`+extra+`}}`)
	n := &clusterNode{p: clitest.Start(t, bin, "-config", cfg)}
	if strings.Contains(natsPart, "embeddedNATS") {
		n.nats = n.p.WaitLine(`embedded NATS listening" address=(\S+)`)[1]
	}
	n.rtmfp = n.p.WaitLine(`RTMFP endpoint listening" address=(\S+)`)[1]
	n.status = n.p.WaitLine(`status endpoint listening" address=http://(\S+)/status`)[1]
	n.p.WaitLine(`rtmfpd started`)
	return n
}

// clusterView is the part of GET /status the test reads.
type clusterView struct {
	Cluster struct {
		Nodes []struct {
			Name string `json:"name"`
		} `json:"nodes"`
		Registry struct {
			RemotePeers int `json:"remotePeers"`
		} `json:"registry"`
		Redirects int `json:"redirects"`
	} `json:"cluster"`
}

func (n *clusterNode) view(t *testing.T) clusterView {
	t.Helper()
	var v clusterView
	resp, err := http.Get("http://" + n.status + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func (n *clusterNode) nodes(t *testing.T) []string {
	var out []string
	for _, x := range n.view(t).Cluster.Nodes {
		out = append(out, x.Name)
	}
	return out
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(clitest.Patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling an HTTP endpoint: nothing to wait on
	}
}

// TestClusterNodeKilled: three rtmfpd processes, node 1 running the
// embedded NATS server and full (cluster.maxSessions 1). Clients of node 3;
// node 3 is killed with SIGKILL: it disappears from the registry within
// its expiry, and its clients, reconnecting through node 1, are all
// redirected to node 2, never to the dead node.
func TestClusterNodeKilled(t *testing.T) {
	dir := t.TempDir()
	bin := clitest.Build(t, dir, ".")
	n1 := startNode(t, bin, dir, "n1", `"embeddedNATS": {"listen": "127.0.0.1:0"}`, `, "maxSessions": 1`)
	nats := `"nats": ["nats://` + n1.nats + `"]`
	n2 := startNode(t, bin, dir, "n2", nats, "")
	n3 := startNode(t, bin, dir, "n3", nats, "")
	eventually(t, "node 1 to see both others", func() bool { return len(n1.nodes(t)) == 2 })

	ctx, cancel := context.WithTimeout(context.Background(), clitest.Patience)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	holder, err := client.Dial(ctx, "rtmfp://"+n1.rtmfp+"/live", client.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	const clients = 10
	var onN3 []*client.Conn
	for range clients {
		c, err := client.Dial(ctx, "rtmfp://"+n3.rtmfp+"/live", client.Options{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		onN3 = append(onN3, c)
	}
	// Each node registers its own peer ID too.
	eventually(t, "node 3's clients in node 1's registry", func() bool {
		return n1.view(t).Cluster.Registry.RemotePeers == clients+2
	})

	n3.p.Kill()
	killed := time.Now()
	eventually(t, "node 3 to leave node 1's registry", func() bool {
		v := n1.view(t)
		return len(v.Cluster.Nodes) == 1 && v.Cluster.Nodes[0].Name == "n2" && v.Cluster.Registry.RemotePeers == 1
	})
	t.Logf("node 3 dropped %v after SIGKILL (expiry 1s, heartbeat 200ms)", time.Since(killed).Round(10*time.Millisecond))
	for _, c := range onN3 {
		c.Session().Abort() // its server is gone: nothing to close with
	}

	// The clients come back through node 1, which is full: all land on
	// node 2.
	for i := range clients {
		c, err := client.Dial(ctx, "rtmfp://"+n1.rtmfp+"/live", client.Options{Logger: log})
		if err != nil {
			t.Fatalf("reconnection %d: %v", i, err)
		}
		if got := c.Session().RemoteAddr().String(); got != n2.rtmfp {
			t.Fatalf("reconnection %d landed on %s, want node 2 at %s", i, got, n2.rtmfp)
		}
		defer c.Close()
	}
	if v := n1.view(t); v.Cluster.Redirects < clients {
		t.Fatalf("node 1 redirected %d sessions", v.Cluster.Redirects)
	}
	eventually(t, "the reconnected clients in node 1's registry", func() bool {
		return n1.view(t).Cluster.Registry.RemotePeers == clients+1
	})
	resp, err := http.Get("http://" + n1.status + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"rtmfpd_cluster_nodes 1", "rtmfpd_cluster_nats_connected 1",
		fmt.Sprintf(`rtmfpd_cluster_registry_entries{kind="peer",part="remote"} %d`, 1+clients)} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q:\n%s", want, b)
		}
	}
}
