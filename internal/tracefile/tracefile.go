// Package tracefile loads the recorded RTMFP traffic kept in
// testdata/rtmfp-traces: real datagrams exchanged by librtmfp, MonaServer2,
// rtmfp-cpp and rtmfpd, each with the key that decrypts it, and the key
// material of every session (see testdata/rtmfp-traces/SOURCE.md for how
// they were made).
//
// It is a test helper: the files are read from the module's testdata folder,
// found by walking up from the working directory to go.mod.
package tracefile

import (
	"bufio"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Scenarios names the recorded captures.
var Scenarios = []string{"a_unicast", "b_p2p", "c_netgroup", "d_rtmfpcpp", "e_librtmfp_rtmfpd",
	"f_librtmfp_p2p_rtmfpd", "g_librtmfp_netgroup_rtmfpd", "h_librtmfp_group_publish_rtmfpd"}

// Hex is a byte string written as hex in JSON.
type Hex []byte

// UnmarshalJSON decodes a hex string (or null).
func (h *Hex) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*h = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// Chunk is one chunk of a decoded datagram: its type and its value without the
// 3-byte type/length header.
type Chunk struct {
	Type  byte
	Value []byte
}

// UnmarshalJSON decodes {"type":"0x10","hex":"..."}.
func (c *Chunk) UnmarshalJSON(b []byte) error {
	var raw struct {
		Type string `json:"type"`
		Hex  Hex    `json:"hex"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	var t uint8
	if _, err := fmt.Sscanf(raw.Type, "0x%x", &t); err != nil {
		return fmt.Errorf("chunk type %q: %w", raw.Type, err)
	}
	c.Type, c.Value = t, raw.Hex
	return nil
}

// Datagram is one captured UDP datagram.
type Datagram struct {
	Index         int     `json:"-"`
	T             float64 `json:"t"`
	Src           string  `json:"src"`
	Dst           string  `json:"dst"`
	RoleSrc       string  `json:"role_src"`
	RoleDst       string  `json:"role_dst"`
	Wire          Hex     `json:"wire"`
	SessionID     uint32  `json:"session_id"`
	Key           Hex     `json:"key"`
	KeyKind       string  `json:"key_kind"`
	Plain         Hex     `json:"plain"`
	Integrity     string  `json:"integrity"`
	IntegrityOK   bool    `json:"integrity_ok"`
	HMAC          Hex     `json:"hmac"`
	SSeq          *uint64 `json:"sseq"`
	Flags         string  `json:"flags"`
	Timestamp     *uint16 `json:"timestamp"`
	TimestampEcho *uint16 `json:"timestamp_echo"`
	PaddingLen    int     `json:"padding_len"`
	Chunks        []Chunk `json:"chunks"`
	Note          string  `json:"note"`
}

// IsRTMFP reports whether the datagram is RTMFP (the captures hold a few
// zero-length datagrams that are not).
func (d *Datagram) IsRTMFP() bool { return d.Key != nil && len(d.Wire) > 0 }

// Endpoint names one side of a recorded session.
type Endpoint struct {
	Role      string `json:"role"`
	Addr      string `json:"addr"`
	SessionID uint32 `json:"session_id"`
	Software  string `json:"software"`
}

// Integrity describes one direction's packet integrity mode (d only).
type Integrity struct {
	Mode       string `json:"mode"`
	HMACLength int    `json:"hmac_length"`
	HMACKey    Hex    `json:"hmac_key"`
	SSeq       bool   `json:"session_sequence_numbers"`
}

// Session is the key material of one recorded handshake.
type Session struct {
	Name                          string               `json:"name"`
	Initiator                     Endpoint             `json:"initiator"`
	Responder                     Endpoint             `json:"responder"`
	DHGroup                       int                  `json:"dh_group"`
	DHGenerator                   int                  `json:"dh_generator"`
	DHPrime                       Hex                  `json:"dh_prime"`
	InitiatorDHPrivate            Hex                  `json:"initiator_dh_private"`
	InitiatorDHPublic             Hex                  `json:"initiator_dh_public"`
	InitiatorFarDHPublicSeen      Hex                  `json:"initiator_far_dh_public_seen"`
	ResponderDHPrivate            Hex                  `json:"responder_dh_private"`
	ResponderDHPublic             Hex                  `json:"responder_dh_public"`
	ResponderFarDHPublicSeen      Hex                  `json:"responder_far_dh_public_seen"`
	SharedSecret                  Hex                  `json:"shared_secret"`
	Cookie                        Hex                  `json:"cookie"`
	InitiatorCertificate          Hex                  `json:"initiator_certificate"`
	InitiatorPeerID               Hex                  `json:"initiator_peer_id"`
	ResponderCertificate          Hex                  `json:"responder_certificate"`
	InitiatorSessionKeyComponent  Hex                  `json:"initiator_session_key_component"`
	ResponderSessionKeyComponent  Hex                  `json:"responder_session_key_component"`
	InitiatorToResponderKey       Hex                  `json:"initiator_to_responder_key"`
	ResponderToInitiatorKey       Hex                  `json:"responder_to_initiator_key"`
	IIKeyingDatagramIndex         int                  `json:"iikeying_datagram_index"`
	RIKeyingDatagramIndex         int                  `json:"rikeying_datagram_index"`
	IntegrityModes                map[string]Integrity `json:"integrity"`
	InitiatorNearNonce            Hex                  `json:"initiator_near_nonce"`
	InitiatorFarNonce             Hex                  `json:"initiator_far_nonce"`
	ResponderNearNonce            Hex                  `json:"responder_near_nonce"`
	ResponderFarNonce             Hex                  `json:"responder_far_nonce"`
	InitiatorEncryptKeyFullOutput Hex                  `json:"initiator_encrypt_key_full_hmac_output"`
	InitiatorDecryptKeyFullOutput Hex                  `json:"initiator_decrypt_key_full_hmac_output"`
}

// Keys is the content of a <scenario>.keys.json file.
type Keys struct {
	Scenario   string            `json:"scenario"`
	DefaultKey Hex               `json:"default_key"`
	Sessions   []Session         `json:"sessions"`
	Roles      map[string]string `json:"roles"`
}

// Dir returns the folder holding the traces.
func Dir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "testdata", "rtmfp-traces"), nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("tracefile: go.mod not found above " + wd)
		}
	}
}

func open(name string) (*gzip.Reader, *os.File, error) {
	dir, err := Dir()
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return zr, f, nil
}

// LoadDatagrams reads every datagram of a scenario, in capture order.
func LoadDatagrams(scenario string) ([]Datagram, error) {
	zr, f, err := open(scenario + ".jsonl.gz")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Datagram
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var d Datagram
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", scenario, len(out)+1, err)
		}
		d.Index = len(out)
		out = append(out, d)
	}
	return out, sc.Err()
}

// LoadKeys reads the key material of a scenario.
func LoadKeys(scenario string) (*Keys, error) {
	zr, f, err := open(scenario + ".keys.json.gz")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var k Keys
	if err := json.NewDecoder(zr).Decode(&k); err != nil {
		return nil, fmt.Errorf("%s keys: %w", scenario, err)
	}
	return &k, nil
}
