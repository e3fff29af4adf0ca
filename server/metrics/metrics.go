// Package metrics serves a server's counters in Prometheus' text format
// through github.com/prometheus/client_golang, with Go's runtime and
// process metrics beside them. The server describes its metrics at each
// scrape (a list of samples), so the package knows nothing of the server.
package metrics

import (
	"net/http"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Kind is a sample's type.
type Kind int

// Kinds of samples.
const (
	Gauge Kind = iota
	Counter
)

// Label is a label name and value.
type Label struct{ Name, Value string }

// Sample is one value of one metric.
type Sample struct {
	Name, Help string
	Kind       Kind
	Value      float64
	Labels     []Label
}

// source collects the samples at each scrape. It describes nothing ahead
// (an unchecked collector): the metrics and their labels depend on what
// the server holds.
type source func() []Sample

func (s source) Describe(chan<- *prometheus.Desc) {}

func (s source) Collect(ch chan<- prometheus.Metric) {
	samples := s()
	sort.SliceStable(samples, func(i, j int) bool { return samples[i].Name < samples[j].Name })
	descs := map[string]*prometheus.Desc{}
	for _, m := range samples {
		names := make([]string, len(m.Labels))
		values := make([]string, len(m.Labels))
		for i, l := range m.Labels {
			names[i], values[i] = l.Name, l.Value
		}
		key := m.Name
		for _, n := range names {
			key += "\x00" + n
		}
		d := descs[key]
		if d == nil {
			d = prometheus.NewDesc(m.Name, m.Help, names, nil)
			descs[key] = d
		}
		t := prometheus.GaugeValue
		if m.Kind == Counter {
			t = prometheus.CounterValue
		}
		if pm, err := prometheus.NewConstMetric(d, t, m.Value, values...); err == nil {
			ch <- pm
		}
	}
}

// Handler serves /metrics: the samples collect returns, and Go's runtime
// and process metrics.
func Handler(collect func() []Sample) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		source(collect))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
