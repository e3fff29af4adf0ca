package server

import (
	"reflect"
	"testing"
	"time"
)

// TestCheckNonNegative: every duration and number of a configuration is
// checked by its JSON path, in nested structs, slices and pointers, except
// fields tagged config:"signed".
func TestCheckNonNegative(t *testing.T) {
	type inner struct {
		Wait  Duration `json:"wait"`
		Count *int     `json:"count"`
	}
	type cfg struct {
		Items  []inner `json:"items"`
		Offset int     `json:"offset" config:"signed"`
		Rate   float64
		Name   string `json:"name"`
	}
	neg := -3
	for _, c := range []struct {
		v    cfg
		want string
	}{
		{cfg{Offset: -5, Items: []inner{{Wait: Duration(time.Second)}}}, ""},
		{cfg{Items: []inner{{}, {Wait: Duration(-time.Second)}}}, "items[1].wait: -1s is negative"},
		{cfg{Items: []inner{{Count: &neg}}}, "items[0].count: -3 is negative"},
		{cfg{Rate: -0.5}, "Rate: -0.5 is negative"},
	} {
		got := ""
		if err := checkNonNegative(reflect.ValueOf(c.v), ""); err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%+v: error %q, want %q", c.v, got, c.want)
		}
	}
}
