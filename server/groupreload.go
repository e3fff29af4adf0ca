package server

import (
	"errors"
	"reflect"
)

// reloadGroups makes the server's group memberships those of gcs: groups
// whose configuration is unchanged are kept as they are (neighbours,
// streams), new or changed ones are joined, and those no longer listed are
// left. A group that cannot be joined refuses the whole change (what was
// joined for it is left again).
func (d *Daemon) reloadGroups(gcs []GroupConfig) error {
	d.groupsMu.Lock()
	closed := d.groupsClosed
	old := d.groups
	d.groupsMu.Unlock()
	if closed {
		return errors.New("groups: the server is shutting down")
	}
	if len(gcs) > 0 && len(d.endpoints) == 0 {
		return errors.New("groups need an RTMFP endpoint")
	}
	kept := map[*serverGroup]bool{}
	var next, joined []*serverGroup
	for _, gc := range gcs {
		var same *serverGroup
		for _, sg := range old {
			if !kept[sg] && reflect.DeepEqual(sg.cfg, gc) {
				same = sg
				break
			}
		}
		if same != nil {
			kept[same] = true
			next = append(next, same)
			continue
		}
		sg, err := d.joinGroup(gc)
		if sg != nil {
			joined = append(joined, sg)
		}
		if err != nil {
			for _, j := range joined {
				j.close()
			}
			return err
		}
		next = append(next, sg)
	}
	d.groupsMu.Lock()
	d.groups = next
	d.groupsMu.Unlock()
	d.announceGroups()
	for _, sg := range old {
		if !kept[sg] {
			sg.log.Info("group left by a reload")
			sg.close()
		}
	}
	return nil
}
