// The alerts about the campaigns themselves. `a` is $._alertHelpers, `c` the
// _config.
function(a, c)
  local s = a.s;
  [
    // More than 10% of the subscribers processed in the last hour ended in
    // error, with at least 50 processed in that hour (a quiet campaign does not
    // page), for 15m.
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
    // processed in the last 10 minutes, for 5m.
    a.alert(
      'EvoluxCampaignErrorBurst',
      'critical',
      a.named(|||
        (
            campaign:evolux_subscribers_error:ratio_delta10m{%(s)s} > %(ratio)g
          and
            campaign:evolux_subscribers_processed:delta10m{%(s)s} >= %(min)d
        )
      ||| % { s: s, ratio: c.errorBurstThreshold, min: c.errorBurstMinProcessed }),
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
