package server

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// TestStatusAndMetrics: /status has one key style, each stream's
// publishing time, each group stream with its multicast properties and
// multicastInfo statistics; /metrics speaks Prometheus' format.
func TestStatusAndMetrics(t *testing.T) {
	file, err := filepath.Abs("../testdata/media/test_6s.flv")
	if err != nil {
		t.Fatal(err)
	}
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": ["127.0.0.1:0"], "status": "127.0.0.1:0",
		"groups": [{"spec": "`+testGroupSpec+`",
			"publish": [{"app": "live", "multicast": {"multicastWindowDuration": "4s", "multicastPushNeighborLimit": 2}}],
			"files": [{"path": "`+file+`", "name": "promo", "loop": true}]}]}`)
	c := dialRTMFP(t, d, "live")
	wantPrefix(t, "publish", publish(t, c, "cam"), "")
	code, body := request(t, d, "GET", "/status", "", "")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	var keys func(v any, path string)
	keys = func(v any, path string) {
		switch t2 := v.(type) {
		case map[string]any:
			for k, e := range t2 {
				if r := []rune(k); len(r) > 0 && !unicode.IsLower(r[0]) {
					t.Errorf("key %s.%s is not lowerCamelCase", path, k)
				}
				keys(e, path+"."+k)
			}
		case []any:
			for _, e := range t2 {
				keys(e, path+"[]")
			}
		}
	}
	keys(doc, "")
	var st struct {
		Streams []StreamStatus `json:"streams"`
		Groups  []struct {
			Streams []struct {
				Name           string             `json:"name"`
				PublishingTime float64            `json:"publishingTime"`
				Multicast      map[string]any     `json:"multicast"`
				MulticastInfo  map[string]float64 `json:"multicastInfo"`
			} `json:"streams"`
		} `json:"groups"`
		RTMFP []struct {
			Stats map[string]any `json:"stats"`
		} `json:"rtmfp"`
	}
	json.Unmarshal([]byte(body), &st)
	if len(st.Streams) != 1 || st.Streams[0].Key != "live/_definst_/cam" || st.Streams[0].PublishingTime < 0 {
		t.Errorf("streams %+v", st.Streams)
	}
	if len(st.Groups) != 1 || len(st.Groups[0].Streams) != 2 {
		t.Fatalf("group streams %+v", st.Groups)
	}
	cam := st.Groups[0].Streams[0]
	if cam.Name != "cam" || cam.Multicast["multicastWindowDuration"] != 4.0 || cam.Multicast["multicastPushNeighborLimit"] != 2.0 ||
		cam.Multicast["multicastFetchPeriod"] != 2.5 {
		t.Errorf("cam's multicast properties %v", cam.Multicast)
	}
	for _, k := range []string{"bytesPushedToPeers", "fragmentsRequestedByPeers", "sendDataBytesPerSecond", "bytesReceivedFromIPMulticast"} {
		if _, ok := cam.MulticastInfo[k]; !ok {
			t.Errorf("multicastInfo lacks %s: %v", k, cam.MulticastInfo)
		}
	}
	if _, ok := st.RTMFP[0].Stats["packetsIn"]; !ok {
		t.Errorf("endpoint stats keys: %v", st.RTMFP[0].Stats)
	}

	_, m := request(t, d, "GET", "/metrics", "", "")
	for _, re := range []string{
		`rtmfpd_sessions\{proto="rtmfp"\} 1`,
		`rtmfpd_handshakes_total\{outcome="accepted"\} 1`,
		`rtmfpd_publishers\{proto="rtmfp"\} 1`,
		`rtmfpd_streams 1`,
		`rtmfpd_bytes_total\{direction="in",proto="rtmfp"\} [1-9]`,
		`rtmfpd_group_stream_neighbors\{group="[0-9a-f]+",stream="promo"\} 0`,
		`rtmfpd_relay_targets\{state="publishing"\} 0`,
		`go_goroutines [1-9]`,
		`process_resident_memory_bytes`,
	} {
		if !regexp.MustCompile(`(?m)^` + re).MatchString(m) {
			t.Errorf("/metrics lacks %s", re)
		}
	}
	if strings.Contains(m, "/admin") {
		t.Error("metrics mention admin")
	}
}
