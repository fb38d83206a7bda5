// The dashboard in dashboards/evolux-exporter-health.json.
local g = import '../lib/grafana.libsonnet';

function(config)
  local c = (import 'common.libsonnet')(config);
  g.dashboard(
    'evolux-exporter-health',
    'Evolux exporter health',
    'Is evolux-exporter scraped, are its polls of the Evolux API succeeding and fresh, how is the API answering.',
    c.variables(template=false),
    [
      g.stat(
        1,
        'Scrape up',
        'up: 1 when Prometheus scraped the exporter instance successfully.',
        [0, 0, 4, 4],
        [g.target(c.e('up{%(m)s}'), '{{instance}}')],
        unit='none',
        mappings=g.upDown('DOWN', 'UP'),
        colorMode='background',
        graphMode='none',
      ),
      g.stat(
        2,
        'All campaigns polled',
        'evolux_up: 1 when the last poll of every campaign succeeded, per exporter instance.',
        [4, 0, 4, 4],
        [g.target(c.e('evolux_up{%(m)s}'), '{{instance}}')],
        unit='none',
        mappings=g.upDown('FAILING', 'OK'),
        colorMode='background',
        graphMode='none',
      ),
      g.stat(
        3,
        'Campaigns failing',
        'Campaigns whose last poll failed (evolux_campaign_up == 0); their counts stay at the last good values.',
        [8, 0, 4, 4],
        [g.target(c.e('count(evolux_campaign_up{%(m)s, campaign=~"$campaign"} == 0) or vector(0)'))],
        more=[[1, 'red']],
        colorMode='background',
        graphMode='none',
      ),
      g.stat(
        4,
        'Oldest successful poll',
        'Age of the oldest last successful poll among the selected campaigns. EvoluxDataStale fires above 15 minutes.',
        [12, 0, 4, 4],
        [g.target(c.e('max(time() - (evolux_campaign_last_success_timestamp_seconds{%(m)s, campaign=~"$campaign"} > 0))'))],
        unit='s',
        decimals=0,
        more=[[300, 'orange'], [900, 'red']],
        colorMode='value',
      ),
      g.stat(
        5,
        'Series dropped',
        "evolux_series_dropped: series dropped by the exporter's series cap (poll.max_series) in the current snapshot. Anything above 0 means missing data.",
        [16, 0, 4, 4],
        [g.target(c.e('sum(evolux_series_dropped{%(m)s})'))],
        more=[[1, 'red']],
        colorMode='value',
        graphMode='none',
      ),
      g.stat(
        6,
        'Exporter version',
        'evolux_exporter_build_info: version and revision of each running exporter.',
        [20, 0, 4, 4],
        [g.instant(c.e('count by (version, revision) (evolux_exporter_build_info{%(m)s})'), '{{version}} ({{revision}})')],
        unit='none',
        graphMode='none',
        textMode='name',
      ),
      g.timeseries(
        7,
        'Scrape and poll status',
        'up (the scrape of the exporter) and evolux_up (the last poll of every campaign succeeded), per instance; 1 is healthy.',
        [0, 4, 12, 8],
        [
          g.target(c.e('up{%(m)s}'), 'up {{instance}}'),
          g.target(c.e('evolux_up{%(m)s}'), 'evolux_up {{instance}}', 'B'),
        ],
        unit='none',
        stepped=true,
        max=1,
      ),
      g.timeseries(
        8,
        'Poll success by campaign',
        'evolux_campaign_up per campaign: 1 when its last poll succeeded (lowest value across instances).',
        [12, 4, 12, 8],
        [g.target(c.named('min by (campaign) (evolux_campaign_up{%(m)s, campaign=~"$campaign"})'), '{{campaign_name}}')],
        unit='none',
        stepped=true,
        max=1,
      ),
      g.timeseries(
        9,
        'Age of the last successful poll',
        'time() - evolux_campaign_last_success_timestamp_seconds per campaign. Red line: 15 minutes, the EvoluxDataStale threshold.',
        [0, 12, 12, 8],
        [g.target(c.named('time() - max by (campaign) (evolux_campaign_last_success_timestamp_seconds{%(m)s, campaign=~"$campaign"} > 0)'), '{{campaign_name}}')],
        unit='s',
        more=[[900, 'red']],
        thresholdsStyle='line',
      ),
      g.timeseries(
        10,
        'Poll duration by campaign',
        "evolux_poll_duration_seconds: how long each campaign's last poll took (longest across instances). Close to --evolux.timeout means trouble.",
        [12, 12, 12, 8],
        [g.target(c.named('max by (campaign) (evolux_poll_duration_seconds{%(m)s, campaign=~"$campaign"})'), '{{campaign_name}}')],
        unit='s',
      ),
      g.timeseries(
        11,
        'API requests by status code',
        'Requests from the exporter to the Evolux API per second, by HTTP status code ("error" when no response came back).',
        [0, 20, 8, 8],
        [g.target(c.e('sum by (code) (rate(evolux_api_requests_total{%(m)s}[$__rate_interval]))'), '{{code}}')],
        unit='reqps',
        stacked=true,
      ),
      g.timeseries(
        12,
        'API error ratio',
        'Share of the requests to the Evolux API that did not get a 2xx answer (4xx, 5xx, or "error").',
        [8, 20, 8, 8],
        [g.target(c.e(|||
          (sum(rate(evolux_api_requests_total{%(m)s, code!~"2.."}[$__rate_interval])) or vector(0))
          /
          sum(rate(evolux_api_requests_total{%(m)s}[$__rate_interval]))
        |||), 'non-2xx')],
        unit='percentunit',
        more=[[0.05, 'orange'], [0.5, 'red']],
        thresholdsStyle='line',
      ),
      g.timeseries(
        13,
        'API request latency',
        'Duration of the requests to the Evolux API: quantiles from the evolux_api_request_duration_seconds histogram, and the mean.',
        [16, 20, 8, 8],
        [
          g.target(c.e('histogram_quantile(0.5, sum by (le) (rate(evolux_api_request_duration_seconds_bucket{%(m)s}[$__rate_interval])))'), 'p50'),
          g.target(c.e('histogram_quantile(0.9, sum by (le) (rate(evolux_api_request_duration_seconds_bucket{%(m)s}[$__rate_interval])))'), 'p90', 'B'),
          g.target(c.e('histogram_quantile(0.99, sum by (le) (rate(evolux_api_request_duration_seconds_bucket{%(m)s}[$__rate_interval])))'), 'p99', 'C'),
          g.target(c.e(|||
            sum(rate(evolux_api_request_duration_seconds_sum{%(m)s}[$__rate_interval]))
            /
            sum(rate(evolux_api_request_duration_seconds_count{%(m)s}[$__rate_interval]))
          |||), 'mean', 'D'),
        ],
        unit='s',
      ),
      g.table(
        14,
        'Campaign poll status',
        'Per campaign: whether its last poll succeeded, when the last success was and how long the last poll took.',
        [0, 28, 24, 8],
        [
          g.tableTarget(c.named('min by (campaign) (evolux_campaign_up{%(m)s, campaign=~"$campaign"})'), 'A'),
          g.tableTarget(c.named('time() - max by (campaign) (evolux_campaign_last_success_timestamp_seconds{%(m)s, campaign=~"$campaign"} > 0)'), 'B'),
          g.tableTarget(c.named('max by (campaign) (evolux_poll_duration_seconds{%(m)s, campaign=~"$campaign"})'), 'C'),
        ],
        columns=[
          ['campaign_name', 'Campaign'],
          ['campaign', 'UUID'],
          ['Value #A', 'Last poll'],
          ['Value #B', 'Last success'],
          ['Value #C', 'Poll duration'],
        ],
        sortBy='Last success',
        overrides=[
          g.byName('Last poll', [
            {
              id: 'mappings',
              value: [
                {
                  type: 'value',
                  options: {
                    '0': { text: 'FAILING', color: 'red', index: 0 },
                    '1': { text: 'OK', color: 'green', index: 1 },
                  },
                },
              ],
            },
            { id: 'custom.cellOptions', value: { type: 'color-background' } },
          ]),
          g.byName('Last success', [
            { id: 'unit', value: 's' },
            { id: 'decimals', value: 0 },
            { id: 'custom.cellOptions', value: { type: 'color-text' } },
            {
              id: 'thresholds',
              value: {
                mode: 'absolute',
                steps: [
                  { color: 'green', value: null },
                  { color: 'orange', value: 300 },
                  { color: 'red', value: 900 },
                ],
              },
            },
          ]),
          g.byName('Poll duration', { unit: 's' }),
        ],
      ),
      g.timeseries(
        15,
        'API records per hour',
        "Records read from the Evolux API per hour (evolux_api_records_total). Segmented polling reads again only what may have changed, so this follows the campaigns' activity, not their size.",
        [0, 36, 6, 8],
        [g.target(c.e('sum(rate(evolux_api_records_total{%(m)s}[$__rate_interval])) * 3600'), 'records / h')],
      ),
      g.timeseries(
        16,
        'API bytes per hour',
        'Body bytes received from the Evolux API per hour, as on the wire (gzip-compressed when the server compresses): evolux_api_response_bytes_total.',
        [6, 36, 6, 8],
        [g.target(c.e('sum(rate(evolux_api_response_bytes_total{%(m)s}[$__rate_interval])) * 3600'), 'bytes / h')],
        unit='bytes',
      ),
      g.timeseries(
        17,
        'Staleness by campaign',
        "How long ago each campaign's least recently read segment was read (time() - evolux_campaign_refreshed_timestamp_seconds): the most its counts can be behind. The bound is poll.max-interval; EvoluxCampaignStalenessHigh fires above twice it.",
        [12, 36, 6, 8],
        [
          g.target(c.named('time() - max by (campaign) (evolux_campaign_refreshed_timestamp_seconds{%(m)s, campaign=~"$campaign"})'), '{{campaign_name}}'),
          g.target(c.e('max(evolux_poll_max_interval_seconds{%(m)s})'), 'bound (poll.max-interval)', 'B'),
        ],
        unit='s',
      ),
      g.timeseries(
        18,
        'Segments by campaign',
        'Insertion-time segments held per campaign (evolux_campaign_segments); 1 when the campaign is read whole (poll.max-interval equal to poll.interval, or after a verification mismatch).',
        [18, 36, 6, 8],
        [g.target(c.named('max by (campaign) (evolux_campaign_segments{%(m)s, campaign=~"$campaign"})'), '{{campaign_name}}')],
      ),
      g.timeseries(
        19,
        'Failed reads by reason',
        'Why reads fail, per hour: evolux_campaign_poll_errors_total by reason (auth, forbidden, not_found, rate_limited, server_error, http_other, timeout, connection, tls, bad_body, too_large, deadline). Empty while nothing fails. The runbook says what each reason means.',
        [0, 44, 24, 8],
        [g.target(c.e('sum by (reason) (rate(evolux_campaign_poll_errors_total{%(m)s, campaign=~"$campaign"}[$__rate_interval])) * 3600'), '{{reason}}')],
        stacked=true,
      ),
    ],
  )
