package wire

import (
	"bytes"
	"testing"
)

func TestUserDataOptions(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want UserDataOptions
	}{
		{"Flash metadata (real)", "05 00 54430400 00", UserDataOptions{Metadata: []byte("TC\x04\x00")}},
		{"metadata + return association (real)", "05 00 54430401 02 0a 02 00",
			UserDataOptions{Metadata: []byte("TC\x04\x01"), ReturnAssociation: 2, HasReturnAssociation: true}},
		{"empty metadata", "01 00 00", UserDataOptions{Metadata: []byte{}}},
		{"return association only, big flow ID", "03 0a 8100 00", UserDataOptions{ReturnAssociation: 128, HasReturnAssociation: true}},
		{"only the marker", "00", UserDataOptions{}},
	}
	for _, tc := range tests {
		in := unhex(t, tc.in)
		o, err := ParseUserDataOptions(in)
		if err != nil || !bytes.Equal(o.Metadata, tc.want.Metadata) || (o.Metadata == nil) != (tc.want.Metadata == nil) ||
			o.ReturnAssociation != tc.want.ReturnAssociation || o.HasReturnAssociation != tc.want.HasReturnAssociation || o.UnknownMandatory {
			t.Errorf("%s: %+v %v, want %+v", tc.name, o, err, tc.want)
			continue
		}
		if enc := o.Append(nil); !bytes.Equal(enc, in) || o.Len() != len(in) {
			t.Errorf("%s: Append %x Len %d", tc.name, enc, o.Len())
		}
		for i := range in {
			if _, err := ParseUserDataOptions(in[:i]); err == nil {
				t.Errorf("%s: prefix %x parsed", tc.name, in[:i])
			}
		}
	}
}

func TestUserDataOptionsUnknown(t *testing.T) {
	// Type 0x05 < 0x2000: mandatory, must reject the flow. 0x2000: ignorable.
	o, err := ParseUserDataOptions(unhex(t, "02 05 01 00"))
	if err != nil || !o.UnknownMandatory {
		t.Errorf("mandatory unknown: %+v %v", o, err)
	}
	o, err = ParseUserDataOptions(unhex(t, "03 c000 01 00"))
	if err != nil || o.UnknownMandatory {
		t.Errorf("ignorable unknown: %+v %v", o, err)
	}
	for _, in := range []string{"02 0a 81 00", "03 0a 01 02 00", "01 0a 00", "00 00", "05 00 01"} {
		if _, err := ParseUserDataOptions(unhex(t, in)); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}

func TestUserDataMissingMarker(t *testing.T) {
	if _, err := ParseUserData(unhex(t, "80 02 01 01 05 00 54430400")); err != ErrMissingMarker {
		t.Errorf("no marker: %v", err)
	}
	if _, err := ParseNextUserData(unhex(t, "80 02 0a 05")); err != ErrMissingMarker {
		t.Errorf("no marker: %v", err)
	}
}

func TestUserDataOptionsFlag(t *testing.T) {
	// Append sets FlagOptions from Options, whatever Flags says.
	u := UserData{Flags: FlagOptions | FragFirst, FlowID: 1, Seq: 1, Data: []byte{7}}
	if enc := u.Append(nil); enc[3] != FragFirst {
		t.Errorf("flag kept without options: %x", enc)
	}
	u = UserData{Flags: 0, FlowID: 1, Seq: 1, Options: UserDataOptions{Metadata: []byte("TC")}.Append(nil)}
	enc := u.Append(nil)
	back, err := ParseUserData(enc[ChunkHeaderLen:])
	if err != nil || back.Flags != FlagOptions || !bytes.Equal(back.Options, u.Options) {
		t.Errorf("flag not set with options: %x → %+v %v", enc, back, err)
	}
}

func TestNextUserData(t *testing.T) {
	prev := UserData{Flags: FragFirst, FlowID: 5, Seq: 10, FSNOffset: 3, Data: []byte{1}}
	n := NextUserData{Flags: FragLast, Data: []byte{2}}
	u := n.Expand(prev)
	if u.FlowID != 5 || u.Seq != 11 || u.FSNOffset != 4 || u.Flags != FragLast || u.Fragment() != FragLast {
		t.Errorf("Expand: %+v", u)
	}
	if fsn, ok := u.FSN(); !ok || fsn != 7 {
		t.Errorf("FSN %d %v", fsn, ok)
	}
	if back, ok := u.AsNext(prev); !ok || back.Flags != n.Flags || !bytes.Equal(back.Data, n.Data) {
		t.Errorf("AsNext: %+v %v", back, ok)
	}
	u.FSNOffset = 3 // the forward sequence number moved: needs a full User Data
	if _, ok := u.AsNext(prev); ok {
		t.Errorf("AsNext accepted a different FSN")
	}
	if _, ok := (UserData{Seq: 1, FSNOffset: 2}).FSN(); ok {
		t.Errorf("FSN accepted fsnOffset > seq")
	}
}
