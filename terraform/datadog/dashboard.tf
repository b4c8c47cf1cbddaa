# CloudThrift FinOps dashboard: what was saved, what is still wasted, what waits on a human, and whether
# the pipeline is healthy. Metric names and tags are documented in shared/telemetry/__init__.py.

locals {
  # Every query is scoped by the template variables below.
  scope      = "$env,$account_id,$region"
  real_saved = "sum:cloudthrift.cost_avoided.monthly_usd{${local.scope},dry_run:false}.as_count()"
  # Dollars avoided, counted by the executor's money sweep once per interval per real clean-up (it
  # stops at an undo): a count, so any window sums exactly what was avoided within it.
  avoided_usd = "sum:cloudthrift.cost_avoided.usd{${local.scope}}.as_count()"
  waste       = "sum:cloudthrift.scan.waste_monthly_usd{${local.scope}}"
}

resource "datadog_dashboard" "finops" {
  title       = var.title
  description = "Idle AWS resources found, approved and cleaned by CloudThrift. Managed by terraform/datadog."
  layout_type = "ordered"
  reflow_type = "auto"

  template_variable {
    name     = "env"
    prefix   = "env"
    defaults = [var.env]
  }

  template_variable {
    name     = "account_id"
    prefix   = "account_id"
    defaults = ["*"]
  }

  template_variable {
    name     = "region"
    prefix   = "region"
    defaults = ["*"]
  }

  # --- Savings: the ROI ----------------------------------------------------------------------------
  widget {
    group_definition {
      title       = "Savings"
      layout_type = "ordered"

      widget {
        query_value_definition {
          title       = "Monthly cost avoided (executions in the period)"
          autoscale   = true
          custom_unit = "$"
          precision   = 2
          request {
            formula {
              formula_expression = "saved"
              conditional_formats {
                comparator = ">"
                value      = 0
                palette    = "white_on_green"
              }
            }
            query {
              metric_query {
                name        = "saved"
                data_source = "metrics"
                query       = local.real_saved
                aggregator  = "sum"
              }
            }
          }
        }
      }

      widget {
        query_value_definition {
          title       = "Cost avoided to date ($, last 12 months whatever the dashboard's window)"
          autoscale   = true
          custom_unit = "$"
          precision   = 2
          live_span   = "1y"
          request {
            formula {
              formula_expression = "avoided"
            }
            query {
              metric_query {
                name        = "avoided"
                data_source = "metrics"
                query       = local.avoided_usd
                aggregator  = "sum"
              }
            }
          }
        }
      }

      widget {
        timeseries_definition {
          title       = "Cost avoided, cumulative over the window ($)"
          show_legend = true
          request {
            display_type = "line"
            formula {
              formula_expression = "cumsum(avoided)"
              alias              = "avoided to date"
            }
            query {
              metric_query {
                name        = "avoided"
                data_source = "metrics"
                query       = local.avoided_usd
              }
            }
          }
        }
      }

      widget {
        timeseries_definition {
          title       = "Cost avoided over time ($/month)"
          show_legend = true
          request {
            display_type = "bars"
            formula {
              formula_expression = "saved"
              alias              = "avoided by executions"
            }
            query {
              metric_query {
                name        = "saved"
                data_source = "metrics"
                query       = local.real_saved
              }
            }
          }
          request {
            display_type = "line"
            formula {
              formula_expression = "cumsum(saved)"
              alias              = "cumulative"
            }
            query {
              metric_query {
                name        = "saved"
                data_source = "metrics"
                query       = local.real_saved
              }
            }
          }
        }
      }

      widget {
        timeseries_definition {
          title       = "Waste found vs cleaned ($/month)"
          show_legend = true
          request {
            display_type = "line"
            formula {
              formula_expression = "found"
              alias              = "waste found by the last scans"
            }
            formula {
              formula_expression = "cumsum(cleaned)"
              alias              = "cleaned (cumulative)"
            }
            query {
              metric_query {
                name        = "found"
                data_source = "metrics"
                query       = local.waste
              }
            }
            query {
              metric_query {
                name        = "cleaned"
                data_source = "metrics"
                query       = local.real_saved
              }
            }
          }
        }
      }

      widget {
        toplist_definition {
          title = "Waste by kind and region ($/month, last scan)"
          request {
            formula {
              formula_expression = "waste"
              limit {
                count = 10
                order = "desc"
              }
            }
            query {
              metric_query {
                name        = "waste"
                data_source = "metrics"
                query       = "sum:cloudthrift.scan.waste_monthly_usd{${local.scope}} by {kind,region}"
                aggregator  = "last"
              }
            }
          }
        }
      }

      widget {
        query_value_definition {
          title     = "Idle resources (last scan)"
          autoscale = true
          precision = 0
          request {
            formula {
              formula_expression = "idle"
            }
            query {
              metric_query {
                name        = "idle"
                data_source = "metrics"
                query       = "sum:cloudthrift.scan.idle_resources{${local.scope}}"
                aggregator  = "last"
              }
            }
          }
        }
      }
    }
  }

  # --- Approvals: what waits on a human --------------------------------------------------------------
  widget {
    group_definition {
      title       = "Approvals"
      layout_type = "ordered"

      widget {
        query_value_definition {
          title     = "Pending approvals"
          autoscale = true
          precision = 0
          request {
            formula {
              formula_expression = "pending"
              conditional_formats {
                comparator = ">"
                value      = 0
                palette    = "white_on_yellow"
              }
            }
            query {
              metric_query {
                name        = "pending"
                data_source = "metrics"
                query       = "max:cloudthrift.approvals.pending{$env}"
                aggregator  = "last"
              }
            }
          }
        }
      }

      widget {
        query_value_definition {
          title       = "Oldest pending approval"
          custom_unit = "h"
          precision   = 1
          request {
            formula {
              formula_expression = "age / 3600"
              conditional_formats {
                comparator = ">"
                value      = 72
                palette    = "white_on_red"
              }
            }
            query {
              metric_query {
                name        = "age"
                data_source = "metrics"
                query       = "max:cloudthrift.approvals.pending_age_max{$env}"
                aggregator  = "last"
              }
            }
          }
        }
      }

      widget {
        query_value_definition {
          title       = "Waste waiting on a human ($/month)"
          custom_unit = "$"
          precision   = 2
          request {
            formula {
              formula_expression = "waiting"
            }
            query {
              metric_query {
                name        = "waiting"
                data_source = "metrics"
                query       = "max:cloudthrift.approvals.pending_monthly_usd{$env}"
                aggregator  = "last"
              }
            }
          }
        }
      }

      widget {
        timeseries_definition {
          title       = "Answers by decision"
          show_legend = true
          request {
            display_type = "bars"
            formula {
              formula_expression = "answers"
            }
            query {
              metric_query {
                name        = "answers"
                data_source = "metrics"
                query       = "sum:cloudthrift.approvals{$env} by {decision}.as_count()"
              }
            }
          }
        }
      }

      widget {
        timeseries_definition {
          title       = "Pending approvals and the oldest wait (h)"
          show_legend = true
          request {
            display_type = "line"
            formula {
              formula_expression = "pending"
              alias              = "pending"
            }
            formula {
              formula_expression = "age / 3600"
              alias              = "oldest (h)"
            }
            query {
              metric_query {
                name        = "pending"
                data_source = "metrics"
                query       = "max:cloudthrift.approvals.pending{$env}"
              }
            }
            query {
              metric_query {
                name        = "age"
                data_source = "metrics"
                query       = "max:cloudthrift.approvals.pending_age_max{$env}"
              }
            }
          }
        }
      }
    }
  }

  # --- Pipeline health -------------------------------------------------------------------------------
  widget {
    group_definition {
      title       = "Pipeline health"
      layout_type = "ordered"

      widget {
        query_value_definition {
          title     = "Messages in dead-letter queues"
          precision = 0
          request {
            formula {
              formula_expression = "dlq"
              conditional_formats {
                comparator = ">"
                value      = 0
                palette    = "white_on_red"
              }
              conditional_formats {
                comparator = "<="
                value      = 0
                palette    = "white_on_green"
              }
            }
            query {
              metric_query {
                name        = "dlq"
                data_source = "metrics"
                query       = "sum:cloudthrift.dlq.depth{$env}"
                aggregator  = "last"
              }
            }
          }
        }
      }

      widget {
        timeseries_definition {
          title       = "Queue lag p95 (s): age of a message when received"
          show_legend = true
          request {
            display_type = "line"
            formula {
              formula_expression = "lag"
            }
            query {
              metric_query {
                name        = "lag"
                data_source = "metrics"
                query       = "p95:cloudthrift.queue.lag{$env} by {queue}"
              }
            }
          }
        }
      }

      widget {
        timeseries_definition {
          title       = "Stage latency p95 (s)"
          show_legend = true
          request {
            display_type = "line"
            formula {
              formula_expression = "latency"
            }
            query {
              metric_query {
                name        = "latency"
                data_source = "metrics"
                query       = "p95:cloudthrift.stage.latency{$env,outcome:ok} by {stage}"
              }
            }
          }
        }
      }

      widget {
        timeseries_definition {
          title       = "Errors by stage"
          show_legend = true
          request {
            display_type = "bars"
            formula {
              formula_expression = "errors"
            }
            query {
              metric_query {
                name        = "errors"
                data_source = "metrics"
                query       = "sum:cloudthrift.stage.errors{$env} by {stage,error}.as_count()"
              }
            }
          }
        }
      }

      widget {
        timeseries_definition {
          title       = "Dead-letter queues: depth and moves"
          show_legend = true
          request {
            display_type = "line"
            formula {
              formula_expression = "depth"
              alias              = "depth"
            }
            query {
              metric_query {
                name        = "depth"
                data_source = "metrics"
                query       = "max:cloudthrift.dlq.depth{$env} by {queue}"
              }
            }
          }
          request {
            display_type = "bars"
            formula {
              formula_expression = "moved"
              alias              = "moved"
            }
            query {
              metric_query {
                name        = "moved"
                data_source = "metrics"
                query       = "sum:cloudthrift.dlq.moved{$env} by {queue}.as_count()"
              }
            }
          }
        }
      }

      widget {
        timeseries_definition {
          title       = "Gemini: cost ($) and tokens"
          show_legend = true
          request {
            display_type = "bars"
            formula {
              formula_expression = "cost"
              alias              = "cost ($)"
            }
            query {
              metric_query {
                name        = "cost"
                data_source = "metrics"
                query       = "sum:cloudthrift.gemini.cost_usd{$env} by {model}.as_count()"
              }
            }
          }
          request {
            display_type   = "line"
            on_right_yaxis = true
            formula {
              formula_expression = "tokens"
              alias              = "tokens"
            }
            query {
              metric_query {
                name        = "tokens"
                data_source = "metrics"
                query       = "sum:cloudthrift.gemini.tokens{$env} by {direction}.as_count()"
              }
            }
          }
        }
      }

      widget {
        servicemap_definition {
          title   = "Service map: scanner → analyzer → notifier → executor"
          service = "cloudthrift-analyzer"
          filters = ["env:${var.env}"]
        }
      }
    }
  }
}
