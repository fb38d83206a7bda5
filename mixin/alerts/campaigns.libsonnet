// The alerts about the campaigns themselves. `a` is $._alertHelpers, `c` the
// _config.
function(a, c)
  local s = a.s;
  local baseline(labels) =
    '{{ with printf `campaign:evolux_subscribers_error:ratio_baseline{%s, instance=%%q, campaign=%%q}` %s | query }}{{ . | first | value | humanizePercentage }}{{ else }}none{{ end }}' % [s, labels];
  [
    // The rise: the last hour's error ratio above the upper edge of the
    // campaign's baseline band (rules/baseline.libsonnet: more than twice its
    // usual ratio, 2 points more, and significant), with enough processed and
    // errors in the hour that a handful never pages, for 15m. Resolves once
    // the ratio is back inside the band (and 15m more).
    a.alert(
      'EvoluxCampaignErrorRising',
      'warning',
      a.named(|||
        (
            campaign:evolux_subscribers_error:ratio_delta1h{%(s)s}
              > campaign:evolux_subscribers_error:ratio_rise_threshold{%(s)s}
          and
            campaign:evolux_subscribers_processed:delta1h{%(s)s} >= %(minProcessed)d
          and
            campaign:evolux_subscribers_error:delta1h{%(s)s} >= %(minErrors)d
        )
      ||| % { s: s, minProcessed: c.errorRiseMinProcessed, minErrors: c.errorRiseMinErrors }),
      c.errorRiseFor,
      'The error ratio of one Evolux campaign is rising above its usual level.',
      '{{ $value | humanizePercentage }} of the subscribers of campaign %s processed in the last hour ended in error, against %s over the %d hours before: more than %s its usual ratio and significantly so (z > %g, at least %d processed and %d errors in the hour).' % [
        a.campaign,
        baseline('$labels.instance $labels.campaign'),
        c.errorBaselineHours,
        if c.errorRiseFactor == 2 then 'twice' else '%g times' % c.errorRiseFactor,
        c.errorRiseZ,
        c.errorRiseMinProcessed,
        c.errorRiseMinErrors,
      ],
      keepFiringFor=c.errorRiseKeepFiringFor,
    ),
    // The ceiling, for what a baseline cannot judge: more than 25% of the
    // subscribers processed in the last hour ended in error, with at least 50
    // processed in that hour (a quiet campaign does not page), for 15m.
    a.alert(
      'EvoluxCampaignErrorRatioHigh',
      'warning',
      a.named(|||
        (
            campaign:evolux_subscribers_error:ratio_delta1h{%(s)s} > %(ratio)g
          and
            campaign:evolux_subscribers_processed:delta1h{%(s)s} >= %(min)d
        )
      ||| % { s: s, ratio: c.errorRatioThreshold, min: c.errorRatioMinProcessed }),
      c.errorRatioFor,
      'Too many subscribers of one Evolux campaign end in error.',
      '{{ $value | humanizePercentage }} of the subscribers of campaign %s processed in the last hour ended in error (threshold %s, at least %d processed).' % [
        a.campaign,
        a.percent(c.errorRatioThreshold),
        c.errorRatioMinProcessed,
      ],
      keepFiringFor=c.errorRatioKeepFiringFor,
    ),
    // Faster and stricter: more than 30% errors among at least 20 subscribers
    // processed in the last 10 minutes, for 5m; unless the campaign's baseline
    // ratio is already at least half that (its usual level, not a burst: the
    // ceiling's job). A campaign without a baseline yet can burst.
    a.alert(
      'EvoluxCampaignErrorBurst',
      'critical',
      a.named(|||
        (
            campaign:evolux_subscribers_error:ratio_delta10m{%(s)s} > %(ratio)g
          and
            campaign:evolux_subscribers_processed:delta10m{%(s)s} >= %(min)d
          unless
            campaign:evolux_subscribers_error:ratio_delta10m{%(s)s}
              <= %(factor)g * campaign:evolux_subscribers_error:ratio_baseline{%(s)s}
        )
      ||| % { s: s, ratio: c.errorBurstThreshold, min: c.errorBurstMinProcessed, factor: c.errorBurstBaselineFactor }),
      c.errorBurstFor,
      'A burst of errors is hitting one Evolux campaign.',
      '{{ $value | humanizePercentage }} of the subscribers of campaign %s processed in the last 10 minutes ended in error (threshold %s, at least %d processed).' % [
        a.campaign,
        a.percent(c.errorBurstThreshold),
        c.errorBurstMinProcessed,
      ],
      keepFiringFor=c.errorBurstKeepFiringFor,
    ),
    // Subscribers are waiting (pending + scheduled > 0), the backlog is not
    // smaller than one hour ago and nothing has been processed in that hour,
    // while the campaign's polls succeed (a failing poll freezes the counts: see
    // EvoluxCampaignPollFailing). `offset 1h` also means it needs one hour of
    // history.
    a.alert(
      'EvoluxCampaignBacklogStalled',
      'warning',
      a.named(|||
        (
            campaign:evolux_subscribers_backlog:sum{%(s)s} > 0
          and
            campaign:evolux_subscribers_backlog:sum{%(s)s}
              >= campaign:evolux_subscribers_backlog:sum{%(s)s} offset 1h
          and
            campaign:evolux_subscribers_processed:delta1h{%(s)s} == 0
          and on (job, instance, campaign)
            evolux_campaign_up{%(s)s} == 1
        )
      ||| % { s: s }),
      c.backlogStalledFor,
      'The backlog of one Evolux campaign is not moving.',
      'Campaign %s has {{ $value | humanize }} subscribers pending or scheduled and has processed none in the last hour.' % a.campaign,
    ),
  ]
