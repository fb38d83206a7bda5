// PromQL pieces repeated across the dashboards.
{
  // The matchers every dashboard selector starts with: the mixin's selector,
  // then the dashboard's job and instance variables.
  dashboardMatchers(config)::
    '%s, job=~"$job", instance=~"$instance"' % config.evoluxExporterSelector,

  // `expr` (by campaign) with the campaign's name as label campaign_name: the
  // name from evolux_campaign_info, or the UUID while none is known. `m` is
  // dashboardMatchers(config).
  withCampaignName(expr, m):: |||
    (
    %(expr)s
    )
    * on (campaign) group_left (campaign_name)
    (
        group by (campaign, campaign_name) (evolux_campaign_info{%(m)s, campaign=~"$campaign"})
      or on (campaign)
        label_replace(
          group by (campaign) (evolux_campaign_subscribers{%(m)s, campaign=~"$campaign"} or evolux_campaign_up{%(m)s, campaign=~"$campaign"}),
          "campaign_name", "$1", "campaign", "(.+)"
        )
    )
  ||| % { expr: std.rstripChars(expr, '\n'), m: m },

  // `expr` (by template) with the template's name as label template_name, from
  // evolux_template_info or the UUID.
  withTemplateName(expr, m):: |||
    (
    %(expr)s
    )
    * on (template) group_left (template_name)
    (
        group by (template, template_name) (evolux_template_info{%(m)s, template=~"$template"})
      or on (template)
        label_replace(
          group by (template) (evolux_campaign_subscribers{%(m)s, template=~"$template"}),
          "template_name", "$1", "template", "(.+)"
        )
    )
  ||| % { expr: std.rstripChars(expr, '\n'), m: m },
}
