// Campaign progress, for operations and BI: how fast a campaign's backlog is
// dispatched, when it will be empty at that pace, and how far through its
// subscribers the campaign is.
//
// States only move forward (pending -> scheduled -> sent -> completed, dnd or
// error), but new subscribers can join pending at any time: the shrink of the
// backlog understates the dispatch (or shows none) while subscribers arrive.
// So the pace is the growth of the processed count (sent + completed + dnd +
// error), which arrivals do not change.
{
  rules(s):: [
    // Dispatch throughput: subscribers leaving pending/scheduled per second,
    // over the last hour (dashboards show it per hour). deriv() is the slope of
    // a least-squares line through the samples: exact for steady progress,
    // smooth over the step a count makes once per poll, available after two
    // samples (a new campaign, a fresh Prometheus), and negative only while
    // old subscribers leave the poll window faster than new ones are processed.
    {
      record: 'campaign:evolux_subscribers_processed:rate1h',
      expr: 'deriv(campaign:evolux_subscribers_processed:sum{%s}[1h])' % s,
    },
    // Seconds until the backlog (pending + scheduled) is empty at that pace,
    // not counting subscribers still to arrive. No series while the backlog is
    // empty or not draining (a throughput of 0 or less): no estimate at all
    // rather than an infinite or negative one.
    {
      record: 'campaign:evolux_subscribers_backlog_drain:seconds',
      expr: |||
        (campaign:evolux_subscribers_backlog:sum{%(s)s} > 0)
          /
        (campaign:evolux_subscribers_processed:rate1h{%(s)s} > 0)
      ||| % { s: s },
    },
    // Progress: the share of the campaign's subscribers (in its poll window)
    // that have left the queue, from 0 to 1; over time, the campaign's
    // completion curve.
    {
      record: 'campaign:evolux_subscribers_processed:ratio',
      expr: |||
        campaign:evolux_subscribers_processed:sum{%(s)s}
          /
        (sum without (template, state) (evolux_campaign_subscribers{%(s)s}) > 0)
      ||| % { s: s },
    },
  ],
}
