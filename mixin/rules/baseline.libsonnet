// Each campaign's error baseline, for EvoluxCampaignErrorRising and the
// "against its baseline" panels: the errors and the processed of the
// c.errorBaselineHours whole hours before the last hour, and the ratio above
// which the last hour's is a large and significant rise.
//
// Cheap at any baseline length: no rule reads the raw series over the day. The
// hourly buckets are the `campaign:..:delta1h` series the rules already record
// every minute (growth over the hour, exact for the counts, see the header of
// evolux-rules.yml); a subquery with a 1h step reads one sample of them per
// whole hour (aligned on the clock), so each bucket is one hour, the buckets
// do not overlap, and the last one ends before the last hour starts. The
// baseline changes once an hour.
{
  rules(s, c)::
    local hours = c.errorBaselineHours;
    local r(name) = '%s{%s}' % [name, s];
    local buckets(name) =
      'sum_over_time(%s[%dh:1h] offset 1h)' % [r(name), hours];
    local p0 = r('campaign:evolux_subscribers_error:ratio_baseline');
    local floored = 'clamp_min(%s, %g)' % [p0, c.errorRiseRatioFloor];
    [
      {
        record: 'campaign:evolux_subscribers_error:baseline',
        expr: buckets('campaign:evolux_subscribers_error:delta1h'),
      },
      {
        record: 'campaign:evolux_subscribers_processed:baseline',
        expr: buckets('campaign:evolux_subscribers_processed:delta1h'),
      },
      // The campaign's usual error ratio; none while its baseline holds fewer
      // than c.errorBaselineMinProcessed processed (no history to judge by).
      {
        record: 'campaign:evolux_subscribers_error:ratio_baseline',
        expr: |||
          %s
            /
          (%s >= %d)
        ||| % [
          r('campaign:evolux_subscribers_error:baseline'),
          r('campaign:evolux_subscribers_processed:baseline'),
          c.errorBaselineMinProcessed,
        ],
      },
      // The upper edge of the baseline band: the last hour's error ratio is a
      // rise when above it. The largest of: the floored baseline ratio times
      // c.errorRiseFactor; the baseline ratio plus c.errorRiseMinIncrease; the
      // baseline ratio plus c.errorRiseZ standard errors of the difference
      // between the two ratios, sqrt(p (1 - p) (1/n1 + 1/n0)) with p the
      // floored baseline ratio, n1 the processed in the last hour and n0 in
      // the baseline (a one-sided two-proportion z-test: the larger the
      // volumes, the narrower the band). The last bound needs something
      // processed in the last hour.
      {
        record: 'campaign:evolux_subscribers_error:ratio_rise_threshold',
        expr: |||
          max without (bound) (
              label_replace(%(factor)g * %(floored)s, "bound", "factor", "", "")
            or
              label_replace(%(p0)s + %(inc)g, "bound", "increase", "", "")
            or
              label_replace(
                  %(p0)s
                +
                  %(z)g * sqrt(
                    %(floored)s * (1 - %(floored)s)
                    * (1 / (%(n1)s > 0) + 1 / %(n0)s)
                  ),
                "bound", "significance", "", ""
              )
          )
        ||| % {
          factor: c.errorRiseFactor,
          floored: floored,
          p0: p0,
          inc: c.errorRiseMinIncrease,
          z: c.errorRiseZ,
          n1: r('campaign:evolux_subscribers_processed:delta1h'),
          n0: r('campaign:evolux_subscribers_processed:baseline'),
        },
      },
    ],
}
