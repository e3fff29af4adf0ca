package server

import (
	"errors"
	"reflect"
)

// WithConfigSource gives the server the function that reads its
// configuration again (the file and the command line's overrides), for
// SIGHUP and the admin API's reload.
func WithConfigSource(load func() (Config, error)) Option {
	return func(d *Daemon) { d.source = load }
}

// ReloadFromSource reads the configuration again from the source given with
// WithConfigSource and applies it (see Reload).
func (d *Daemon) ReloadFromSource() error {
	if d.source == nil {
		return errors.New("reload: the server was started without a configuration source")
	}
	cfg, err := d.source()
	if err != nil {
		d.log.Error("reload refused; the configuration in use is kept", "err", err)
		return err
	}
	return d.Reload(cfg)
}

// Reload replaces, without dropping a session, what can change while the
// server runs: the applications with their access rules and HTTP
// callbacks, defaultApp, appKey, the token secrets, the relay rules (for
// streams published from then on) and the groups (see reloadGroups). An
// invalid configuration is refused whole (the error names the field) and
// the one in use is kept. Other fields (addresses, limits, admin) keep
// their started values; a change to them is logged as needing a restart.
func (d *Daemon) Reload(cfg Config) error {
	d.cfgMu.Lock() // one reload at a time
	defer d.cfgMu.Unlock()
	err := cfg.Validate()
	var pol *policy
	if err == nil {
		pol, err = compilePolicy(&cfg)
	}
	if err == nil {
		err = d.relay.CheckRules(cfg.Relay.Rules)
	}
	if err == nil && !reflect.DeepEqual(d.cfg.Groups, cfg.Groups) {
		err = d.reloadGroups(cfg.Groups)
	}
	if err != nil {
		d.log.Error("reload refused; the configuration in use is kept", "err", err)
		return err
	}
	d.relay.SetRules(cfg.Relay.Rules)
	d.ctl.pol.Store(pol)
	d.mcs.cfg.Store(&cfg.MulticastService)
	d.cfg.MulticastService = cfg.MulticastService
	old := d.cfg
	d.cfg.Apps, d.cfg.DefaultApp, d.cfg.AppKey, d.cfg.Tokens, d.cfg.Hooks = cfg.Apps, cfg.DefaultApp, cfg.AppKey, cfg.Tokens, cfg.Hooks
	d.cfg.Relay.Rules = cfg.Relay.Rules
	d.cfg.Groups = cfg.Groups
	var restart []string
	for _, f := range []struct {
		name string
		a, b any
	}{
		{"rtmfp", old.RTMFP, cfg.RTMFP}, {"rtmp", old.RTMP, cfg.RTMP}, {"rtmpOptions", old.RTMPOptions, cfg.RTMPOptions},
		{"status", old.Status, cfg.Status}, {"identityFile", old.IdentityFile, cfg.IdentityFile},
		{"session", old.Session, cfg.Session}, {"introducer", old.Introducer, cfg.Introducer},
		{"noMediaRelay", old.NoMediaRelay, cfg.NoMediaRelay}, {"limits", old.Limits, cfg.Limits},
		{"cluster", old.Cluster, cfg.Cluster},
		{"admin", old.Admin, cfg.Admin}, {"logLevel", old.LogLevel, cfg.LogLevel}, {"logFormat", old.LogFormat, cfg.LogFormat},
		{"http", old.HTTP, cfg.HTTP},
		{"relay (other than rules)", relaySettings(old.Relay), relaySettings(cfg.Relay)},
	} {
		if !reflect.DeepEqual(f.a, f.b) {
			restart = append(restart, f.name)
		}
	}
	d.reloads.Add(1)
	if len(restart) > 0 {
		d.log.Warn("configuration reloaded; some changes need a restart and are not applied", "fields", restart)
	} else {
		d.log.Info("configuration reloaded", "apps", len(cfg.Apps), "relayRules", len(cfg.Relay.Rules))
	}
	return nil
}

func relaySettings(r RelayConfig) RelayConfig {
	r.Rules = nil
	return r
}
