// The mixin's settings. Override any of them with
//   (import 'mixin.libsonnet') + { _config+:: { evoluxExporterSelector: 'job="my-evolux"' } }
// or render with `mixin/render.sh --selector 'job="my-evolux"' --out DIR`.
// The thresholds are those RUNBOOK.md explains; change them together with
// the unit tests of deploy/prometheus/evolux-rules.test.yml.
{
  _config+:: {
    // Selects the exporter's series in every alert, recording rule and
    // dashboard query: the target labels your scrape configuration gives the
    // exporter, e.g. 'job="evolux"' or 'namespace="monitoring",job="evolux-exporter"'.
    // Equality matchers are best: absent() (EvoluxExporterAbsent) can only name
    // the missing target by them.
    evoluxExporterSelector: 'job="evolux"',

    runbookUrl: 'https://github.com/evolux/evolux-exporter/blob/main/deploy/prometheus/RUNBOOK.md',

    // EvoluxExporterDown, EvoluxExporterAbsent: `up` is 0, or missing.
    exporterDownFor: '5m',
    exporterAbsentFor: '10m',
    // EvoluxApiDown: no campaign poll succeeds.
    apiDownFor: '10m',
    // EvoluxCampaignPollFailing: one campaign's polls fail.
    campaignPollFailingFor: '15m',
    // EvoluxViewPollFailing: one view's polls fail (evolux_view_up == 0).
    viewPollFailingFor: self.campaignPollFailingFor,
    // EvoluxDataStale: the last successful poll is older than this (minutes).
    dataStaleMinutes: 15,
    dataStaleFor: '5m',
    // EvoluxCampaignStalenessHigh: the oldest segment read is older than this
    // many times poll.max-interval.
    stalenessIntervals: 2,
    stalenessFor: '15m',
    // EvoluxViewStalenessHigh: the same for a view's oldest segment read.
    viewStalenessIntervals: self.stalenessIntervals,
    viewStalenessFor: self.stalenessFor,
    // EvoluxCampaignErrorRatioHigh, the ceiling: error ratio among the
    // subscribers processed in the last hour, with at least this many
    // processed. For what a baseline cannot judge (a campaign without history,
    // a ratio no campaign should have): high enough that a merely poor contact
    // list (10-20% errors) does not page; rises are EvoluxCampaignErrorRising's.
    errorRatioThreshold: 0.25,
    errorRatioMinProcessed: 50,
    errorRatioFor: '15m',
    errorRatioKeepFiringFor: '15m',
    // EvoluxCampaignErrorBurst: the same over the last 10 minutes, in a
    // campaign whose baseline (below) is less than 1/errorBurstBaselineFactor
    // of that ratio, or that has no baseline yet: a sudden burst, not its
    // usual level (a campaign that always fails that much is the ceiling's).
    errorBurstThreshold: 0.30,
    errorBurstMinProcessed: 20,
    errorBurstBaselineFactor: 2,
    errorBurstFor: '5m',
    errorBurstKeepFiringFor: '10m',
    // EvoluxCampaignErrorRising: the error ratio of the last hour against the
    // campaign's own baseline. The baseline is the errors and the processed of
    // the errorBaselineHours whole hours before the last hour, summed from the
    // hourly buckets of the `:delta1h` recording rules (so the recent window
    // is that hour, and the bucket length too). It fires when, for
    // errorRiseFor, the last hour's ratio is above each of
    //   errorRiseFactor x the baseline ratio (at least errorRiseRatioFloor),
    //   the baseline ratio + errorRiseMinIncrease,
    //   the baseline ratio + errorRiseZ standard errors (a one-sided
    //     two-proportion z-test, the variance taken at the baseline ratio,
    //     floored at errorRiseRatioFloor),
    // with at least errorRiseMinProcessed processed and errorRiseMinErrors
    // errors in the last hour, and a baseline of at least
    // errorBaselineMinProcessed processed (less is a campaign without history:
    // the ceiling's job). RUNBOOK.md explains the choice.
    errorBaselineHours: 24,
    errorBaselineMinProcessed: 200,
    errorRiseFactor: 2,
    errorRiseMinIncrease: 0.02,
    errorRiseRatioFloor: 0.01,
    errorRiseZ: 3,
    errorRiseMinProcessed: 50,
    errorRiseMinErrors: 10,
    errorRiseFor: '15m',
    errorRiseKeepFiringFor: '15m',
    // EvoluxCampaignBacklogStalled: a backlog that has not moved in an hour.
    backlogStalledFor: '15m',
  },
}
