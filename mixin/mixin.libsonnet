// The evolux-exporter monitoring mixin: alerts, recording rules and Grafana
// dashboards, all selecting the exporter's series by
// _config.evoluxExporterSelector (see config.libsonnet).
//
//   prometheusAlerts   {groups: [...]}: the alerting rules
//   prometheusRules    {groups: [...]}: the recording rules
//   grafanaDashboards  file name -> dashboard
//
// dashboards/ and deploy/prometheus/evolux-rules.yml are its default
// rendering, made by mixin/render.sh.
(import 'config.libsonnet') +
(import 'alerts/alerts.libsonnet') +
(import 'rules/rules.libsonnet') +
(import 'dashboards/dashboards.libsonnet')
