//! rmcp 3.x serving the tasks extension (`io.modelcontextprotocol/tasks`, 2026-07-28) over stdio
//! with rmcp's own `TaskManager`: one tool, `greet`, that runs as a task and completes at once —
//! the work `mcp-tasks` does for the same call, so that the bench compares like with like.

use std::future::Future;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, CreateTaskResult,
    GetTaskParams, GetTaskResult, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::task_manager::{TaskManager, TaskOptions};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};

#[derive(Default)]
struct Peer {
    tasks: TaskManager,
}

impl ServerHandler for Peer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tasks()
                .build(),
        )
    }

    fn call_tool(
        &self,
        request: CallToolRequestParams,
        _: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<CallToolResponse, ErrorData>> + Send + '_ {
        let response = if request.name == "greet" {
            let task = self.tasks.spawn(TaskOptions::new(), |_| {
                Box::pin(async {
                    Ok(CallToolResult::success(vec![ContentBlock::text(
                        "hello, bench",
                    )]))
                })
            });
            Ok(CallToolResponse::Task(CreateTaskResult::new(task)))
        } else {
            Err(ErrorData::invalid_params(
                format!("no tool named '{}'", request.name),
                None,
            ))
        };
        std::future::ready(response)
    }

    fn get_task(
        &self,
        request: GetTaskParams,
        _: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<GetTaskResult, ErrorData>> + Send + '_ {
        std::future::ready(
            self.tasks
                .get_task(&request.task_id)
                .map(GetTaskResult::new),
        )
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let service = Peer::default().serve(rmcp::transport::stdio()).await?;
    service.waiting().await?;
    Ok(())
}
