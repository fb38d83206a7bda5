{
  grafanaDashboards+:: {
    'evolux-campaigns-overview.json': (import 'campaigns-overview.libsonnet')($._config),
    'evolux-campaign-detail.json': (import 'campaign-detail.libsonnet')($._config),
    'evolux-exporter-health.json': (import 'exporter-health.libsonnet')($._config),
  },
}
