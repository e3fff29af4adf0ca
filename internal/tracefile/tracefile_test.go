package tracefile

import "testing"

func TestLoadAll(t *testing.T) {
	want := map[string]int{"a_unicast": 959, "b_p2p": 522, "c_netgroup": 3195, "d_rtmfpcpp": 670, "e_librtmfp_rtmfpd": 589,
		"f_librtmfp_p2p_rtmfpd": 412, "g_librtmfp_netgroup_rtmfpd": 362, "h_librtmfp_group_publish_rtmfpd": 590}
	for _, s := range Scenarios {
		ds, err := LoadDatagrams(s)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != want[s] {
			t.Errorf("%s: %d datagrams, want %d", s, len(ds), want[s])
		}
		k, err := LoadKeys(s)
		if err != nil {
			t.Fatal(err)
		}
		if len(k.Sessions) == 0 || len(k.DefaultKey) != 16 {
			t.Errorf("%s: %d sessions, default key %x", s, len(k.Sessions), k.DefaultKey)
		}
		for _, d := range ds {
			if d.IsRTMFP() && (len(d.Plain) == 0 || !d.IntegrityOK) {
				t.Errorf("%s #%d: no plaintext", s, d.Index)
			}
		}
	}
}
