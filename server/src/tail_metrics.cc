#include "tail_metrics.h"

#include <vector>

#include "absl/time/clock.h"
#include "cairn/wal/log.h"
#include "prometheus/client_metric.h"
#include "prometheus/metric_family.h"

namespace cairn::server {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

ClientMetric Gauge(double value, const std::string& consumer) {
  ClientMetric m;
  m.gauge.value = value;
  if (!consumer.empty()) m.label.push_back({"consumer", consumer});
  return m;
}

prometheus::Counter* NewCounter(prometheus::Registry& registry,
                                const std::string& name,
                                const std::string& help) {
  return &prometheus::BuildCounter()
              .Name(name)
              .Help(help)
              .Register(registry)
              .Add({});
}

}  // namespace

TailMetrics::TailMetrics(Metrics* metrics, storage::DB* db,
                         ConsumerRegistry* consumers)
    : metrics_(metrics) {
  prometheus::Registry& r = metrics->registry();
  events_ = NewCounter(r, "cairn_tail_events_sent_total",
                       "change events sent on Tail streams");
  bytes_ = NewCounter(r, "cairn_tail_bytes_sent_total",
                      "bytes of Tail responses sent (serialized)");
  progress_ = NewCounter(r, "cairn_tail_progress_sent_total",
                         "progress messages sent on idle Tail streams");
  out_of_range_ =
      NewCounter(r, "cairn_tail_out_of_range_total",
                 "Tail starts refused because retention removed the sequence");
  collector_ = metrics->AddCollector([db, consumers] {
    const absl::Time now = absl::Now();
    MetricFamily acked{"cairn_tail_consumer_acked_sequence",
                       "last sequence a named consumer acknowledged",
                       MetricType::Gauge,
                       {}};
    MetricFamily lag_seqs{"cairn_tail_consumer_lag_sequences",
                          "committed sequences a named consumer has not "
                          "acknowledged",
                          MetricType::Gauge,
                          {}};
    MetricFamily lag_secs{"cairn_tail_consumer_lag_seconds",
                          "age of the oldest change a named consumer has not "
                          "acknowledged",
                          MetricType::Gauge,
                          {}};
    const std::vector<ConsumerState> list = consumers->List();
    for (const ConsumerState& c : list) {
      const ConsumerLag lag = ComputeLag(db, c, now);
      acked.metric.push_back(Gauge(static_cast<double>(c.acked_seq), c.name));
      lag_seqs.metric.push_back(
          Gauge(static_cast<double>(lag.sequences), c.name));
      lag_secs.metric.push_back(Gauge(lag.seconds, c.name));
    }
    std::vector<MetricFamily> out;
    out.push_back(MetricFamily{"cairn_tail_consumers",
                               "named Tail consumers registered",
                               MetricType::Gauge,
                               {Gauge(static_cast<double>(list.size()), "")}});
    out.push_back(MetricFamily{
        "cairn_tail_first_available_sequence",
        "the earliest sequence a Tail can start at (WAL retention)",
        MetricType::Gauge,
        {Gauge(static_cast<double>(db->wal()->FirstSequence()), "")}});
    out.push_back(std::move(acked));
    out.push_back(std::move(lag_seqs));
    out.push_back(std::move(lag_secs));
    return out;
  });
}

TailMetrics::~TailMetrics() {
  if (collector_ >= 0) metrics_->RemoveCollector(collector_);
}

}  // namespace cairn::server
