// The recording rules (group evolux.rules). How the counts behave and why the
// windowed rules look the way they do: the header of
// deploy/prometheus/evolux-rules.yml (rules/header.libsonnet).
//
// Every selector carries _config.evoluxExporterSelector, recorded series
// included: rules aggregate `without` the state and template, so the target
// labels the selector matches are kept all the way down.
local baseline = import 'baseline.libsonnet';
local progress = import 'progress.libsonnet';

{
  prometheusRules+:: {
    local s = $._config.evoluxExporterSelector,
    local subscribers(states) =
      'evolux_campaign_subscribers{%s, state=~"%s"}' % [s, states],
    local processedStates = 'sent|completed|dnd|error',
    local processedByTemplate = 'campaign_template:evolux_subscribers_processed:sum{%s}' % s,
    local errors = 'evolux_campaign_subscribers{%s, state="error"}' % s,
    local r(name) = '%s{%s}' % [name, s],
    // `a / (b > 0)`: no ratio while nothing has been processed.
    local ratio(numerator, denominator) = |||
      %s
        /
      (%s > 0)
    ||| % [numerator, denominator],

    groups+: [{
      name: 'evolux.rules',
      rules: [
        // --- snapshot aggregations (current state, over the poll window) --------
        {
          record: 'campaign_state:evolux_campaign_subscribers:sum',
          expr: 'sum without (template) (evolux_campaign_subscribers{%s})' % s,
        },
        {
          record: 'campaign_template:evolux_subscribers_processed:sum',
          expr: 'sum without (state) (%s)' % subscribers(processedStates),
        },
        {
          record: 'campaign:evolux_subscribers_processed:sum',
          expr: 'sum without (template) (%s)' % processedByTemplate,
        },
        {
          record: 'campaign:evolux_subscribers_backlog:sum',
          expr: 'sum without (template, state) (%s)' % subscribers('pending|scheduled'),
        },
        {
          record: 'campaign:evolux_subscribers_error:sum',
          expr: 'sum without (template, state) (%s)' % errors,
        },
        // completed / processed: share of the subscribers that left the queue
        // who interacted with the message. Absent while nothing was processed.
        {
          record: 'campaign:evolux_subscribers_completion:ratio',
          expr: ratio(
            'sum without (template, state) (evolux_campaign_subscribers{%s, state="completed"})' % s,
            r('campaign:evolux_subscribers_processed:sum'),
          ),
        },
        {
          record: 'campaign:evolux_subscribers_dnd:ratio',
          expr: ratio(
            'sum without (template, state) (evolux_campaign_subscribers{%s, state="dnd"})' % s,
            r('campaign:evolux_subscribers_processed:sum'),
          ),
        },
        // Errors among everything processed in the poll window (slow to move;
        // the alerts use the windowed ratios below).
        {
          record: 'campaign:evolux_subscribers_error:ratio',
          expr: ratio(
            r('campaign:evolux_subscribers_error:sum'),
            r('campaign:evolux_subscribers_processed:sum'),
          ),
        },

        // --- windowed growth: 1h (dashboards, EvoluxCampaignErrorRatioHigh,
        //     EvoluxCampaignBacklogStalled) -----------------------------------
        // Error is terminal, so the growth of each raw series is safe to take
        // per series.
        {
          record: 'campaign_template:evolux_subscribers_error:delta1h',
          expr: |||
            sum without (state) (
                %(e)s
              - min_over_time(%(e)s[1h])
            )
          ||| % { e: errors },
        },
        // Growth of the sum over the processed states, never per state: a
        // sent -> completed move would count as a new completion.
        {
          record: 'campaign_template:evolux_subscribers_processed:delta1h',
          expr: |||
            %(p)s
              - min_over_time(%(p)s[1h])
          ||| % { p: processedByTemplate },
        },
        {
          record: 'campaign_template:evolux_subscribers_error:ratio_delta1h',
          expr: ratio(
            r('campaign_template:evolux_subscribers_error:delta1h'),
            r('campaign_template:evolux_subscribers_processed:delta1h'),
          ),
        },
        {
          record: 'campaign:evolux_subscribers_error:delta1h',
          expr: 'sum without (template) (%s)' % r('campaign_template:evolux_subscribers_error:delta1h'),
        },
        {
          record: 'campaign:evolux_subscribers_processed:delta1h',
          expr: 'sum without (template) (%s)' % r('campaign_template:evolux_subscribers_processed:delta1h'),
        },
        {
          record: 'campaign:evolux_subscribers_error:ratio_delta1h',
          expr: ratio(
            r('campaign:evolux_subscribers_error:delta1h'),
            r('campaign:evolux_subscribers_processed:delta1h'),
          ),
        },

        // --- windowed growth: 10m (EvoluxCampaignErrorBurst) ---------------------
        {
          record: 'campaign:evolux_subscribers_error:delta10m',
          expr: |||
            sum without (template, state) (
                %(e)s
              - min_over_time(%(e)s[10m])
            )
          ||| % { e: errors },
        },
        {
          record: 'campaign:evolux_subscribers_processed:delta10m',
          expr: |||
            sum without (template) (
                %(p)s
              - min_over_time(%(p)s[10m])
            )
          ||| % { p: processedByTemplate },
        },
        {
          record: 'campaign:evolux_subscribers_error:ratio_delta10m',
          expr: ratio(
            r('campaign:evolux_subscribers_error:delta10m'),
            r('campaign:evolux_subscribers_processed:delta10m'),
          ),
        },

        // --- names ---------------------------------------------------------------
        // One series (value 1) per campaign the exporter knows, with
        // campaign_name set to the configured/reported name, or to the UUID
        // when no name is known. Alerts join it with
        // `* on (job, instance, campaign) group_left (campaign_name)`.
        // `without`, not `by (job, instance, ...)`: every target label the
        // selector matches is kept, so the selector finds the result again.
        {
          record: 'campaign:evolux_campaign_name:info',
          expr: |||
            group without () (evolux_campaign_info{%(s)s})
              or on (job, instance, campaign)
            label_replace(
              group without (template, state) (
                evolux_campaign_subscribers{%(s)s} or evolux_campaign_up{%(s)s}
              ),
              "campaign_name", "$1", "campaign", "(.+)"
            )
          ||| % { s: s },
        },
      ] + baseline.rules(s, $._config) + progress.rules(s),
    }],
  },
}
